"""Renderers: model/results -> str. They never print and never read the clock."""
