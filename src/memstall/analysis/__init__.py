"""Derived facts: pure functions over the model (the kernel's own formulas, exactly)."""
