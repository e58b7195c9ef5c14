DROP TABLE IF EXISTS allocation_requests;
