"""Platform rule profiles as data: one TOML file per platform, read by adapters/profiles.py.

A package (rather than a bare folder) so that importlib.resources finds the files in an
installed wheel as well as in the source tree.
"""
