"""Executing workflow code: the context users program against and one pass of a run."""
