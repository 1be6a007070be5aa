// The multipart parser, magic-byte detection, file-name and storage-key checks (pure functions).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "services/event/images/image_type.hpp"
#include "services/event/images/multipart.hpp"

namespace tiketi::event {
namespace {

std::string png_bytes() {
  std::string s("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00", 29);
  return s;
}

std::string body_with(const std::string& boundary, const std::string& headers, const std::string& data) {
  return "--" + boundary + "\r\n" + headers + "\r\n\r\n" + data + "\r\n--" + boundary + "--\r\n";
}

TEST(Multipart, BoundaryFromContentType) {
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=abc123"), "abc123");
  EXPECT_EQ(multipart_boundary("Multipart/Form-Data;boundary=\"a b'c\""), "a b'c");
  EXPECT_EQ(multipart_boundary("multipart/form-data; charset=utf-8; boundary=----WebKitFormBoundaryX"),
            "----WebKitFormBoundaryX");
  EXPECT_THROW(multipart_boundary("multipart/form-data"), MultipartError);
  EXPECT_THROW(multipart_boundary("multipart/form-data; boundary="), MultipartError);
  EXPECT_THROW(multipart_boundary("multipart/form-data; boundary=\"\""), MultipartError);
  EXPECT_THROW(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'a')), MultipartError);
  EXPECT_THROW(multipart_boundary("multipart/form-data; boundary=\"bad\x01\""), MultipartError);
  EXPECT_THROW(multipart_boundary("multipart/form-data; boundary=a; boundary=b"), MultipartError);
  EXPECT_THROW(multipart_boundary("application/json"), MultipartError);
  EXPECT_THROW(multipart_boundary("image/png"), MultipartError);
}

TEST(Multipart, ParsesOneFilePartWithBinaryData) {
  std::string data = png_bytes() + std::string("\r\n--notquite\r\n\0\xff", 16);
  auto body = body_with("XyZ", "Content-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png",
                        data);
  auto parts = parse_multipart(body, "XyZ");
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].name, "file");
  ASSERT_TRUE(parts[0].filename);
  EXPECT_EQ(*parts[0].filename, "a.png");
  EXPECT_EQ(parts[0].content_type, "image/png");
  EXPECT_EQ(parts[0].data, data);
}

TEST(Multipart, SeveralPartsAndQuotedEscapes) {
  std::string body =
      "--b\r\nContent-Disposition: form-data; name=\"alt\"\r\n\r\nposter\r\n"
      "--b  \r\nContent-Disposition: form-data; name=\"file\"; filename=\"x \\\"y\\\".jpg\"\r\n\r\nDATA\r\n"
      "--b--";
  auto parts = parse_multipart(body, "b");
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].name, "alt");
  EXPECT_FALSE(parts[0].filename);
  EXPECT_EQ(parts[0].data, "poster");
  EXPECT_EQ(*parts[1].filename, "x \"y\".jpg");
  EXPECT_EQ(parts[1].data, "DATA");
}

TEST(Multipart, RefusesMalformedBodies) {
  const std::string ok = body_with("b", "Content-Disposition: form-data; name=\"file\"; filename=\"a.png\"", "abc");
  EXPECT_NO_THROW(parse_multipart(ok, "b"));
  // Truncated anywhere before the closing delimiter.
  for (std::size_t cut : {std::size_t{3}, std::size_t{20}, ok.size() - 12, ok.size() - 6}) {
    EXPECT_THROW(parse_multipart(ok.substr(0, cut), "b"), MultipartError) << cut;
  }
  EXPECT_THROW(parse_multipart(ok, "other"), MultipartError);   // wrong boundary
  EXPECT_THROW(parse_multipart("garbage" + ok, "b"), MultipartError);
  EXPECT_THROW(parse_multipart("--b--", "b"), MultipartError);  // no parts
  EXPECT_THROW(parse_multipart(body_with("b", "Content-Type: image/png", "x"), "b"), MultipartError);
  EXPECT_THROW(parse_multipart(body_with("b", "Content-Disposition: attachment; name=\"f\"", "x"), "b"),
               MultipartError);
  EXPECT_THROW(parse_multipart(body_with("b", "Content-Disposition: form-data; filename=\"a\"", "x"), "b"),
               MultipartError);  // no name
  EXPECT_THROW(parse_multipart(body_with("b", "Content-Disposition: form-data; name=\"f\"; name", "x"), "b"),
               MultipartError);
  EXPECT_THROW(parse_multipart(body_with("b", "no colon here", "x"), "b"), MultipartError);
  EXPECT_THROW(parse_multipart(body_with("b",
                                         "Content-Disposition: form-data; name=\"f\"\r\n"
                                         "Content-Transfer-Encoding: base64",
                                         "eA=="),
                               "b"),
               MultipartError);
  EXPECT_THROW(parse_multipart(body_with("b", "Content-Disposition: form-data; name=\"f\"\r\nX: " +
                                                  std::string(5000, 'a'),
                                         "x"),
                               "b"),
               MultipartError);
  std::string many;
  for (int i = 0; i < 9; ++i) {
    many += "--b\r\nContent-Disposition: form-data; name=\"f" + std::to_string(i) + "\"\r\n\r\nx\r\n";
  }
  EXPECT_THROW(parse_multipart(many + "--b--", "b"), MultipartError);
}

TEST(ImageType, DecidedByMagicBytesOnly) {
  auto png = sniff_image(png_bytes());
  ASSERT_TRUE(png);
  EXPECT_EQ(png->content_type, "image/png");
  EXPECT_EQ(png->extension, "png");
  auto jpg = sniff_image(std::string("\xff\xd8\xff\xe0\x00\x10JFIF\x00", 11));
  ASSERT_TRUE(jpg);
  EXPECT_EQ(jpg->content_type, "image/jpeg");
  auto webp = sniff_image(std::string("RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00", 20));
  ASSERT_TRUE(webp);
  EXPECT_EQ(webp->content_type, "image/webp");
  EXPECT_FALSE(sniff_image("hello, I am a text file called cat.png\n"));
  EXPECT_FALSE(sniff_image("<svg xmlns='http://www.w3.org/2000/svg'></svg>"));
  EXPECT_FALSE(sniff_image(png_bytes().substr(0, 10)));                         // truncated signature
  EXPECT_FALSE(sniff_image(std::string("RIFF\x24\x00\x00\x00WAVEfmt ", 16)));   // RIFF, not WebP
  EXPECT_FALSE(sniff_image(std::string("GIF89a\x01\x00\x01\x00", 10)));
  EXPECT_FALSE(sniff_image(""));
}

TEST(ImageType, FileNamesThatTryPathsAreRefused) {
  EXPECT_FALSE(file_name_problem("poster.png"));
  EXPECT_FALSE(file_name_problem("공연 포스터 (최종).jpg"));
  EXPECT_FALSE(file_name_problem(""));
  for (const std::string& bad : std::vector<std::string>{"../../etc/passwd", "..\\..\\win.ini", "/etc/passwd", "a/b.png", "..", "x..png",
                          "%2e%2e%2fsecret", "a%2Fb.png", "C:evil.png", std::string("a\0b.png", 7),
                          std::string("a\nb.png"), std::string(256, 'a')}) {
    EXPECT_TRUE(file_name_problem(bad)) << bad;
  }
}

TEST(ImageType, StorageKeysAreOnlyGeneratedShapes) {
  EXPECT_TRUE(valid_storage_key("0123456789abcdef0123456789abcdef.png"));
  EXPECT_TRUE(valid_storage_key("0123456789abcdef0123456789abcdef.webp"));
  for (const std::string& bad : std::vector<std::string>{"0123456789abcdef0123456789abcdef.gif", "0123456789ABCDEF0123456789abcdef.png",
                          "../0123456789abcdef0123456789abc.png", "0123456789abcdef0123456789abcdef.png/x",
                          "0123456789abcdef0123456789abcdef", ".png", "", "0123456789abcdef0123456789abcde%2e.png"}) {
    EXPECT_FALSE(valid_storage_key(bad)) << bad;
  }
}

}  // namespace
}  // namespace tiketi::event
