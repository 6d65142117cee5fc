"""Reflex states shared by every page (the session); page states live next to their pages."""
