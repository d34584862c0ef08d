"""The pure core: cases, the state machine, deadlines, policy and money.

Standard library only, no I/O, and never the wall clock: every function that needs
"now" takes it as a parameter, so every rule can be tested in microseconds.
"""
