DROP TABLE IF EXISTS provider_breakers;
