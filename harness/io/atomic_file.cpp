#include "io/atomic_file.hpp"

#include "errors.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace rwkvb {

void write_file_atomically(const std::filesystem::path& path, std::string_view content) {
    const auto tmp = path.string() + fmt::format(".tmp.{}", ::getpid());
    auto fail = [&](const char* what) {
        const std::string why = std::strerror(errno);
        ::unlink(tmp.c_str());
        // An unwritable destination (permissions, a full disk, a path under /proc) is something
        // the user can fix: an InputError naming the file, not an internal error.
        return InputError(fmt::format("{}: cannot write ({} failed: {})", path.string(), what, why));
    };
    if (path.has_parent_path()) {
        std::error_code ec;
        std::filesystem::create_directories(path.parent_path(), ec);
        if (ec)
            throw InputError(fmt::format("{}: cannot create its directory {}: {}", path.string(),
                                         path.parent_path().string(), ec.message()));
    }
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw fail("open");
    size_t done = 0;
    while (done < content.size()) {
        const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ::close(fd);
            throw fail("write");
        }
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) {
        ::close(fd);
        throw fail("fsync");
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw fail("rename");
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(fmt::format("{}: cannot open: {}", path.string(), std::strerror(errno)));
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw InputError(fmt::format("{}: read failed", path.string()));
    return ss.str();
}

bool is_plain_regular_file(const std::filesystem::path& path) {
    std::error_code ec;
    return std::filesystem::symlink_status(path, ec).type() == std::filesystem::file_type::regular;
}

std::string read_regular_file(const std::filesystem::path& path, uintmax_t max_bytes) {
    if (!is_plain_regular_file(path)) throw InputError(fmt::format("{}: not a regular file", path.string()));
    std::error_code ec;
    const uintmax_t size = std::filesystem::file_size(path, ec);
    if (ec || size > max_bytes)
        throw InputError(fmt::format("{}: larger than {} bytes, or unreadable", path.string(), max_bytes));
    return read_file(path);
}

}  // namespace rwkvb
