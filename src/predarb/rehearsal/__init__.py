"""Rehearsal before real money: ``record`` writes what the venues send to a compact file,
``replay`` drives the whole engine on it offline, on a virtual clock."""
