"""Advice: recommendations derived from findings, and safe tuning of vm sysctls."""
