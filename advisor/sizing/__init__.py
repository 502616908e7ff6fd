"""The sizing core: pure functions, bytes as integers, no I/O beyond static tables."""
