// The $n -> ?n rewrite that lets one SQL text run on SQLite too.
#include <gtest/gtest.h>

#include "store/detail/adapters.hpp"

namespace tiketi::store::detail {
namespace {

TEST(RewritePlaceholders, RewritesNumberedParameters) {
  EXPECT_EQ(rewrite_placeholders("SELECT * FROM t WHERE a = $1 AND b = $12"),
            "SELECT * FROM t WHERE a = ?1 AND b = ?12");
  EXPECT_EQ(rewrite_placeholders("VALUES ($1,$2,$1)"), "VALUES (?1,?2,?1)");
}

TEST(RewritePlaceholders, LeavesQuotedTextAndCommentsAlone) {
  EXPECT_EQ(rewrite_placeholders("SELECT '$1', \"$2col\", $3"), "SELECT '$1', \"$2col\", ?3");
  EXPECT_EQ(rewrite_placeholders("SELECT 'it''s $1' || $1"), "SELECT 'it''s $1' || ?1");
  EXPECT_EQ(rewrite_placeholders("SELECT $1 -- costs $2\n, $2"), "SELECT ?1 -- costs $2\n, ?2");
  EXPECT_EQ(rewrite_placeholders("SELECT /* $1 */ $1"), "SELECT /* $1 */ ?1");
}

TEST(RewritePlaceholders, LeavesOtherDollarsAlone) {
  EXPECT_EQ(rewrite_placeholders("SELECT $ , $a, price$1"), "SELECT $ , $a, price?1");
  EXPECT_EQ(rewrite_placeholders("SELECT 'unterminated $1"), "SELECT 'unterminated $1");
}

}  // namespace
}  // namespace tiketi::store::detail
