// Exit codes of DESIGN.md §8, distinct so CI can tell them apart. Smallest applicable wins.
#pragma once

namespace rwkvb {

enum ExitCode : int {
    kExitOk = 0,
    kExitInternal = 1,
    kExitUsage = 2,
    kExitParityFail = 3,
    kExitCellFailed = 4,
    kExitRegression = 5,
    kExitInvalidRun = 6,
};

}  // namespace rwkvb
