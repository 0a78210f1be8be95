"""Conversation records from client platforms and their 15-minute rollups per shop."""
