"""Reading whole numbers from text that people and clients send (paths, query strings, forms).

``str.isdigit()`` is not the test to use before ``int()``: it accepts superscripts and other
digit characters ("¹", "²", "①") that ``int()`` refuses with a ValueError, which became a 500
wherever a query string was checked that way (found by the stateful fuzz test). Only ASCII
digits are a number here.
"""

from __future__ import annotations


def is_whole(text: str) -> bool:
    """Whether ``text`` is a non-negative whole number written in ASCII digits."""
    return text.isascii() and text.isdigit()
