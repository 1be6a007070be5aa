#pragma once
// A real SMTP server with TLS and AUTH for tests: Debian's aiosmtpd (smtp_tls_server.py beside this
// file) run as a child process on 127.0.0.1 with a self-signed certificate made here with the
// openssl command. STARTTLS required (or implicit TLS), AUTH PLAIN/LOGIN required, one account.
// Every AUTH attempt and every accepted message is read back from its JSON-lines log.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace tiketi::notification::testing {

class TlsSmtpServer {
 public:
  static std::filesystem::path script() {
    return std::filesystem::path(__FILE__).parent_path() / "smtp_tls_server.py";
  }

  // Debian's interpreter (a pyenv shim on PATH may not see Debian's python3-aiosmtpd).
  static std::string python() { return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3"; }

  // True when python3-aiosmtpd and openssl are installed.
  static bool available() {
    const std::string cmd = python() + " -c 'import aiosmtpd' >/dev/null 2>&1 && openssl version >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
  }

  // A self-signed certificate for 127.0.0.1 (subjectAltName IP) as <dir>/<name>.crt and .key.
  static void make_cert(const std::filesystem::path& dir, const std::string& name) {
    const auto crt = (dir / (name + ".crt")).string();
    const auto key = (dir / (name + ".key")).string();
    const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext "
                            "subjectAltName=IP:127.0.0.1 -keyout '" +
                            key + "' -out '" + crt + "' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      throw std::runtime_error("openssl could not make a test certificate");
    }
  }

  TlsSmtpServer() = default;
  TlsSmtpServer(const TlsSmtpServer&) = delete;
  TlsSmtpServer& operator=(const TlsSmtpServer&) = delete;
  ~TlsSmtpServer() { stop(); }

  // mode: "starttls" or "tls". Serves the certificate <dir>/<cert>.crt.
  void start(const std::filesystem::path& dir, const std::string& cert, const std::string& mode,
             const std::string& user, const std::string& password) {
    log_ = dir / ("smtp-" + mode + "-" + std::to_string(::getpid()) + "-" + std::to_string(++serial_) + ".jsonl");
    int fds[2];
    if (::pipe(fds) != 0) {
      throw std::runtime_error("pipe");
    }
    const std::string py = python();
    const std::string scr = script().string();
    const std::string crt = (dir / (cert + ".crt")).string();
    const std::string key = (dir / (cert + ".key")).string();
    const std::string logs = log_.string();
    std::vector<std::string> args{py,     scr,  "--cert",     crt,      "--key", key, "--user", user,
                                  "--password", password, "--log", logs, "--mode", mode};
    std::vector<char*> argv;  // built before fork(): the child only calls async-signal-safe functions
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) {
      throw std::runtime_error("fork");
    }
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      const int devnull = ::open("/dev/null", O_WRONLY);
      if (devnull >= 0) {
        ::dup2(devnull, 2);  // aiosmtpd's warnings
      }
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    // "port <n>\n" within 20 s.
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (out.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fds[0], POLLIN, 0};
      if (::poll(&p, 1, 100) > 0) {
        char buf[128];
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n <= 0) {
          break;
        }
        out.append(buf, static_cast<std::size_t>(n));
      }
    }
    ::close(fds[0]);
    if (out.rfind("port ", 0) != 0) {
      stop();
      throw std::runtime_error("the aiosmtpd test server did not start: '" + out + "'");
    }
    port_ = std::stoi(out.substr(5));
  }

  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      for (int i = 0; i < 100 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i) {
        ::usleep(50'000);
      }
      if (::waitpid(pid_, &status, WNOHANG) == 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
      }
      pid_ = -1;
    }
  }

  int port() const { return port_; }
  std::string url(const std::string& scheme = "smtp") const {
    return scheme + "://127.0.0.1:" + std::to_string(port_);
  }

  std::vector<nlohmann::json> records(const std::string& kind) const {
    std::vector<nlohmann::json> out;
    std::ifstream in(log_);
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.value("kind", "") == kind) {
        out.push_back(std::move(j));
      }
    }
    return out;
  }
  std::vector<nlohmann::json> messages() const { return records("message"); }
  std::vector<nlohmann::json> auths() const { return records("auth"); }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  int serial_ = 0;
  std::filesystem::path log_;
};

}  // namespace tiketi::notification::testing
