"""One module per schema revision (see the package docstring)."""
