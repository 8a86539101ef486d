-- pg_trgm powers typo-tolerant course search (trigram similarity on titles, instructor names and tags).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
