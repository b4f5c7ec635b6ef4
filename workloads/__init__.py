"""Early-exit model zoo, exit profiles, arrival processes and scenarios."""
