"""Seat capacity planning: pure staffing maths (Erlang C/A, forecasting, allocation under scarcity)."""
