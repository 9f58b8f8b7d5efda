"""Nothing of the shelters app is in the Django admin: administrators see no case data, and a shelter's address is
a life-critical secret that only its staff and the coordinators may read (each read audited). Coordinators record
and change shelters through the pages and the API (`shelters:create`, `shelters:edit`), every change audited."""
