"""Finance: pure maths of costs, contracts, credits, statements, balance and exports."""
