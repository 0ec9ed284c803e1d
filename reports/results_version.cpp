// The version of the results document every writer and reader in reports/ agrees on.
namespace rwkvb {
extern const int kResultsSchemaVersion = 1;
}
