#include <filesystem>
#include <fstream>

#include "services/notification/smtp/mailer.hpp"

namespace tiketi::notification {
namespace {

class FileMailer final : public Mailer {
 public:
  explicit FileMailer(std::string dir) : dir_(std::move(dir)) {}

  SendResult send(const OutgoingEmail& email) override {
    SendResult r;
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(dir_, ec);
    // Named by the stable message id: a resend of the same delivery overwrites, never duplicates.
    std::string id;
    for (char c : email.message_id) {
      id += (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.') ? c : '_';
    }
    std::string name = id;
    name.append(".eml");
    const fs::path path = fs::path(dir_) / name;
    const fs::path tmp = fs::path(dir_) / ("." + name + ".tmp");
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << "X-Envelope-To: " << email.to << "\r\n" << build_mime(email);
      out.flush();
      if (!out) {
        r.reply = "cannot write " + tmp.string();
        return r;
      }
    }
    fs::rename(tmp, path, ec);  // readers never see half a message
    if (ec) {
      r.reply = "cannot rename to " + path.string() + ": " + ec.message();
      return r;
    }
    r.ok = true;
    r.code = 250;
    r.reply = "written";
    r.where = path.string();
    return r;
  }

  std::string describe() const override { return "outbox:" + dir_; }

 private:
  std::string dir_;
};

}  // namespace

MailerPtr make_file_mailer(std::string dir) { return std::make_shared<FileMailer>(std::move(dir)); }

}  // namespace tiketi::notification
