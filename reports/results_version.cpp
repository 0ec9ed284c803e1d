// The version of the results document every writer and reader in reports/ agrees on; bump it
// (and results.schema.json's schema_version enum) on any incompatible change.
#include "results.hpp"

namespace rwkvb {
extern const int kResultsSchemaVersion = 2;
}
