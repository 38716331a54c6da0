"""OpenSearch Alerting's own monitor parser (common-utils), run as a contract check on our monitors."""
