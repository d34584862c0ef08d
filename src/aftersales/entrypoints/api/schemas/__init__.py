"""Request and response models: parsing and the OpenAPI document, no business rules."""
