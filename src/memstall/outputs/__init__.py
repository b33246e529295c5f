"""Everything that turns results into bytes for a user or another program."""
