"""Pure rules of the enrollment service: season data, field sets, the application's status."""
