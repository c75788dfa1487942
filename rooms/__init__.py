"""Rooms: town halls, press conferences and thematic rooms, moderation, questions, polls and their record."""
