"""No admin pages: chat ids are personal data and updates hold what people wrote."""
