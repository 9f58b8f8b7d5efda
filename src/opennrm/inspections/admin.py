"""Nothing of the inspections app is in the Django admin: administrators see no case data, and an inspection holds
the employer's identity (encrypted) and the screenings of workers. Inspections are recorded and corrected by the
labour inspectors themselves, through the pages and the API, every act audited."""
