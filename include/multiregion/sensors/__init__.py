"""Deferrable sensors: they check once, then hand the waiting to a trigger in the triggerer."""
