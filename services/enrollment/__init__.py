"""The enrollment service: application records, review, schools, calendar, allocation."""
