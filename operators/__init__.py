"""Operators: roles, chat commands for operators, hand-over, command audit."""
