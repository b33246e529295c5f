"""TEXT -> model. One module per kernel file, one public `parse_<file>(text)` each.

Parsers are pure and raise only `memstall.errors.ParseError` (with the line number).
"""
