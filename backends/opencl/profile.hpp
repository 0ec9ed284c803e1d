// profile=1: wall time per kernel, measured on the host around each launch with the queue
// drained before and after (so it includes the driver's launch cost, which is the point), and
// printed to stderr as a table when the context is destroyed. Slows the run down; for finding
// where time goes, never for reported figures.
#pragma once
#include <map>
#include <string>

namespace rwkvb::ocl {

class Profile {
public:
    ~Profile();
    void add(const std::string& kernel, double seconds);

private:
    struct Entry {
        double seconds = 0;
        long calls = 0;
    };
    std::map<std::string, Entry> entries_;
};

}  // namespace rwkvb::ocl
