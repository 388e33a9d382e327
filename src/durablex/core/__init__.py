"""Pure building blocks of the engine: durations, instants, JSON, matching, retries, ids, clocks."""
