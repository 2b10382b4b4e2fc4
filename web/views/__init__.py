"""The HTML areas of the web app, one blueprint per module; views stay thin over the services."""
