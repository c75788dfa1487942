"""Shelters and assets: capacity, occupancy, check-in/out, equipment, evacuation routes and search."""
