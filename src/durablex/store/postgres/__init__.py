"""The PostgreSQL store: many runners on many machines against one database."""
