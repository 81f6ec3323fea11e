"""Django's PostgreSQL backend, for parameters bound by the server (the settings turn
that on): a statement then takes at most 65,535 parameters, and Django's batches —
the deletion collector's lookups of related rows, bulk inserts and updates — are cut
to fit, as they are for SQLite's limit. Without it, deleting an account with more
messages than that failed."""

from django.db.backends.postgresql import base, features, operations


class DatabaseFeatures(features.DatabaseFeatures):
    max_query_params = 2**16 - 1


class DatabaseOperations(operations.DatabaseOperations):
    def bulk_batch_size(self, fields, objs):
        return max(self.connection.features.max_query_params // max(len(fields), 1), 1)


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
    ops_class = DatabaseOperations
