"""Reusable pieces of the dashboard: layout, forms, stat cards, the live console."""
