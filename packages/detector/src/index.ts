// @llmsec/detector: the OTLP-fed detection service. Public API: see README.md.
export {};
