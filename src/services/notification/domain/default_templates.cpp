// Generated from templates/notification/** by src/services/notification/embed_templates.py;
// the test Templates.TemplatesOnDiskMatchEmbedded fails when the files and this copy differ.
#include "services/notification/domain/templates.hpp"

namespace tiketi::notification {

const std::vector<EmbeddedTemplate>& embedded_templates() {
  static const std::vector<EmbeddedTemplate> kAll{
      {"payment_completed/en.body.html", R"~~(<!doctype html>
<html><head><meta charset="utf-8"><title>{{subject}}</title></head>
<body style="font-family:sans-serif;color:#222;max-width:600px;margin:auto">
<h1>Payment received</h1>
<p>Hi {{name}}, we received your payment.</p>
<table>
<tr><th align="left">Amount</th><td>{{amount}}</td></tr>
{{#has_points}}<tr><th align="left">Points used</th><td>{{points_amount}}</td></tr>
{{/has_points}}{{#has_card}}<tr><th align="left">Charged to card</th><td>{{card_amount}}</td></tr>
{{/has_card}}<tr><th align="left">Payment reference</th><td>{{payment_id}}</td></tr>
</table>
<p>Your booking confirmation follows shortly. <a href="{{link}}">View your booking</a></p>
<p style="color:#888;font-size:12px">Tiketi</p>
</body></html>
)~~"},
      {"payment_completed/en.body.txt", R"~~(Hi {{name}}, we received your payment.

Amount: {{amount}}
{{#has_points}}Points used: {{points_amount}}
{{/has_points}}{{#has_card}}Charged to card: {{card_amount}}
{{/has_card}}Payment reference: {{payment_id}}

Your booking confirmation follows shortly.
Your booking: {{link}}
)~~"},
      {"payment_completed/en.subject.txt", R"~~([Tiketi] Payment received: {{amount}}
)~~"},
      {"payment_completed/ko.body.html", R"~~(<!doctype html>
<html><head><meta charset="utf-8"><title>{{subject}}</title></head>
<body style="font-family:sans-serif;color:#222;max-width:600px;margin:auto">
<h1>결제가 완료되었습니다</h1>
<p>{{name}}님, 결제가 완료되었습니다.</p>
<table>
<tr><th align="left">결제 금액</th><td>{{amount}}</td></tr>
{{#has_points}}<tr><th align="left">포인트 사용</th><td>{{points_amount}}</td></tr>
{{/has_points}}{{#has_card}}<tr><th align="left">카드 결제</th><td>{{card_amount}}</td></tr>
{{/has_card}}<tr><th align="left">결제 번호</th><td>{{payment_id}}</td></tr>
</table>
<p>예매 확정 메일이 곧 도착합니다. <a href="{{link}}">예매 내역 보기</a></p>
<p style="color:#888;font-size:12px">Tiketi</p>
</body></html>
)~~"},
      {"payment_completed/ko.body.txt", R"~~({{name}}님, 결제가 완료되었습니다.

결제 금액: {{amount}}
{{#has_points}}포인트 사용: {{points_amount}}
{{/has_points}}{{#has_card}}카드 결제: {{card_amount}}
{{/has_card}}결제 번호: {{payment_id}}

예매 확정 메일이 곧 도착합니다.
예매 내역: {{link}}
)~~"},
      {"payment_completed/ko.subject.txt", R"~~([Tiketi] 결제 완료: {{amount}}
)~~"},
      {"payment_refunded/en.body.html", R"~~(<!doctype html>
<html><head><meta charset="utf-8"><title>{{subject}}</title></head>
<body style="font-family:sans-serif;color:#222;max-width:600px;margin:auto">
<h1>Your refund has been issued</h1>
<p>Hi {{name}}, your refund has been issued.</p>
<table>
<tr><th align="left">Refunded</th><td>{{refund_amount}}</td></tr>
{{#has_points}}<tr><th align="left">To points</th><td>{{refunded_points}}</td></tr>
{{/has_points}}{{#has_card}}<tr><th align="left">To card</th><td>{{refunded_card}}</td></tr>
{{/has_card}}<tr><th align="left">Payment reference</th><td>{{payment_id}}</td></tr>
</table>
<p>Card refunds can take 3-5 business days to appear, depending on your bank.</p>
<p><a href="{{link}}">View details</a></p>
<p style="color:#888;font-size:12px">Tiketi</p>
</body></html>
)~~"},
      {"payment_refunded/en.body.txt", R"~~(Hi {{name}}, your refund has been issued.

Refunded: {{refund_amount}}
{{#has_points}}To points: {{refunded_points}}
{{/has_points}}{{#has_card}}To card: {{refunded_card}}
{{/has_card}}Payment reference: {{payment_id}}

Card refunds can take 3-5 business days to appear, depending on your bank.
{{link}}
)~~"},
      {"payment_refunded/en.subject.txt", R"~~([Tiketi] Refund issued: {{refund_amount}}
)~~"},
      {"payment_refunded/ko.body.html", R"~~(<!doctype html>
<html><head><meta charset="utf-8"><title>{{subject}}</title></head>
<body style="font-family:sans-serif;color:#222;max-width:600px;margin:auto">
<h1>환불이 완료되었습니다</h1>
<p>{{name}}님, 환불이 완료되었습니다.</p>
<table>
<tr><th align="left">환불 금액</th><td>{{refund_amount}}</td></tr>
{{#has_points}}<tr><th align="left">포인트 환불</th><td>{{refunded_points}}</td></tr>
{{/has_points}}{{#has_card}}<tr><th align="left">카드 환불</th><td>{{refunded_card}}</td></tr>
{{/has_card}}<tr><th align="left">결제 번호</th><td>{{payment_id}}</td></tr>
</table>
<p>카드 환불은 카드사에 따라 영업일 기준 3~5일이 걸릴 수 있습니다.</p>
<p><a href="{{link}}">내역 보기</a></p>
<p style="color:#888;font-size:12px">Tiketi</p>
</body></html>
)~~"},
      {"payment_refunded/ko.body.txt", R"~~({{name}}님, 환불이 완료되었습니다.

환불 금액: {{refund_amount}}
{{#has_points}}포인트 환불: {{refunded_points}}
{{/has_points}}{{#has_card}}카드 환불: {{refunded_card}}
{{/has_card}}결제 번호: {{payment_id}}

카드 환불은 카드사에 따라 영업일 기준 3~5일이 걸릴 수 있습니다.
{{link}}
)~~"},
      {"payment_refunded/ko.subject.txt", R"~~([Tiketi] 환불 완료: {{refund_amount}}
)~~"},
      {"reservation_cancelled/en.body.html", R"~~(<!doctype html>
<html><head><meta charset="utf-8"><title>{{subject}}</title></head>
<body style="font-family:sans-serif;color:#222;max-width:600px;margin:auto">
<h1>Your booking has been cancelled</h1>
<p>Hi {{name}}, your booking has been cancelled.</p>
<p>{{event_title}} · {{performance_date}}</p>
<ul>
{{#items}}<li>{{label}} x{{quantity}}</li>
{{/items}}</ul>
{{#refund}}<p>The {{amount}} you paid will be refunded.</p>
{{/refund}}<p><a href="{{link}}">View your booking</a></p>
<p style="color:#888;font-size:12px">Tiketi</p>
</body></html>
)~~"},
      {"reservation_cancelled/en.body.txt", R"~~(Hi {{name}}, your booking has been cancelled.

Event: {{event_title}}
When: {{performance_date}}
{{#items}}- {{label}} x{{quantity}}
{{/items}}
{{#refund}}The {{amount}} you paid will be refunded.
{{/refund}}Your booking: {{link}}
)~~"},
      {"reservation_cancelled/en.subject.txt", R"~~([Tiketi] Booking cancelled: {{event_title}}
)~~"},
      {"reservation_cancelled/ko.body.html", R"~~(<!doctype html>
<html><head><meta charset="utf-8"><title>{{subject}}</title></head>
<body style="font-family:sans-serif;color:#222;max-width:600px;margin:auto">
<h1>예매가 취소되었습니다</h1>
<p>{{name}}님, 예매가 취소되었습니다.</p>
<p>{{event_title}} · {{performance_date}}</p>
<ul>
{{#items}}<li>{{label}} x{{quantity}}</li>
{{/items}}</ul>
{{#refund}}<p>결제 금액 {{amount}}은(는) 환불 처리됩니다.</p>
{{/refund}}<p><a href="{{link}}">예매 내역 보기</a></p>
<p style="color:#888;font-size:12px">Tiketi</p>
</body></html>
)~~"},
      {"reservation_cancelled/ko.body.txt", R"~~({{name}}님, 예매가 취소되었습니다.

공연: {{event_title}}
일시: {{performance_date}}
{{#items}}- {{label}} x{{quantity}}
{{/items}}
{{#refund}}결제 금액 {{amount}}은(는) 환불 처리됩니다.
{{/refund}}예매 내역: {{link}}
)~~"},
      {"reservation_cancelled/ko.subject.txt", R"~~([Tiketi] 예매 취소: {{event_title}}
)~~"},
      {"reservation_confirmation_failed/en.body.html", R"~~(<!doctype html>
<html><head><meta charset="utf-8"><title>{{subject}}</title></head>
<body style="font-family:sans-serif;color:#222;max-width:600px;margin:auto">
<h1>We could not confirm your booking</h1>
<p>Hi {{name}}, your payment went through but we could not confirm your seats.</p>
{{#has_amount}}<p>The {{amount}} you paid is being refunded automatically.</p>
{{/has_amount}}{{^has_amount}}<p>Your payment is being refunded automatically.</p>
{{/has_amount}}<p>We are sorry for the trouble. <a href="{{link}}">View details</a></p>
<p style="color:#888;font-size:12px">Tiketi</p>
</body></html>
)~~"},
      {"reservation_confirmation_failed/en.body.txt",
       R"~~(Hi {{name}}, your payment went through but we could not confirm your seats.
{{#has_amount}}The {{amount}} you paid is being refunded automatically.
{{/has_amount}}{{^has_amount}}Your payment is being refunded automatically.
{{/has_amount}}
We are sorry for the trouble.
{{link}}
)~~"},
      {"reservation_confirmation_failed/en.subject.txt", R"~~([Tiketi] We could not confirm your booking
)~~"},
      {"reservation_confirmation_failed/ko.body.html", R"~~(<!doctype html>
<html><head><meta charset="utf-8"><title>{{subject}}</title></head>
<body style="font-family:sans-serif;color:#222;max-width:600px;margin:auto">
<h1>예매를 확정할 수 없었습니다</h1>
<p>{{name}}님, 결제는 완료되었으나 좌석을 확정할 수 없었습니다.</p>
{{#has_amount}}<p>결제 금액 {{amount}}은(는) 자동으로 환불됩니다.</p>
{{/has_amount}}{{^has_amount}}<p>결제 금액은 자동으로 환불됩니다.</p>
{{/has_amount}}<p>불편을 드려 죄송합니다. <a href="{{link}}">내역 보기</a></p>
<p style="color:#888;font-size:12px">Tiketi</p>
</body></html>
)~~"},
      {"reservation_confirmation_failed/ko.body.txt",
       R"~~({{name}}님, 결제는 완료되었으나 좌석을 확정할 수 없었습니다.
{{#has_amount}}결제 금액 {{amount}}은(는) 자동으로 환불됩니다.
{{/has_amount}}{{^has_amount}}결제 금액은 자동으로 환불됩니다.
{{/has_amount}}
불편을 드려 죄송합니다.
{{link}}
)~~"},
      {"reservation_confirmation_failed/ko.subject.txt", R"~~([Tiketi] 예매 확정 실패 및 환불 안내
)~~"},
      {"reservation_confirmed/en.body.html", R"~~(<!doctype html>
<html><head><meta charset="utf-8"><title>{{subject}}</title></head>
<body style="font-family:sans-serif;color:#222;max-width:600px;margin:auto">
<h1>Your booking is confirmed</h1>
<p>Hi {{name}}, your booking is confirmed.</p>
<table>
<tr><th align="left">Event</th><td>{{event_title}}</td></tr>
<tr><th align="left">When</th><td>{{performance_date}}</td></tr>
<tr><th align="left">Total paid</th><td>{{amount}}</td></tr>
</table>
<ul>
{{#items}}<li>{{label}} x{{quantity}} ({{unit_price}})</li>
{{/items}}</ul>
<h2>Ticket codes</h2>
<ul>
{{#tickets}}<li><code>{{code}}</code> ({{label}})</li>
{{/tickets}}</ul>
<p><a href="{{link}}">View your booking</a></p>
<p style="color:#888;font-size:12px">Tiketi</p>
</body></html>
)~~"},
      {"reservation_confirmed/en.body.txt", R"~~(Hi {{name}}, your booking is confirmed.

Event: {{event_title}}
When: {{performance_date}}
Total paid: {{amount}}

Seats / tickets:
{{#items}}- {{label}} x{{quantity}} ({{unit_price}})
{{/items}}
Ticket codes:
{{#tickets}}- {{code}} ({{label}})
{{/tickets}}
Your booking: {{link}}
)~~"},
      {"reservation_confirmed/en.subject.txt", R"~~([Tiketi] Booking confirmed: {{event_title}}
)~~"},
      {"reservation_confirmed/ko.body.html", R"~~(<!doctype html>
<html><head><meta charset="utf-8"><title>{{subject}}</title></head>
<body style="font-family:sans-serif;color:#222;max-width:600px;margin:auto">
<h1>예매가 확정되었습니다</h1>
<p>{{name}}님, 예매가 확정되었습니다.</p>
<table>
<tr><th align="left">공연</th><td>{{event_title}}</td></tr>
<tr><th align="left">일시</th><td>{{performance_date}}</td></tr>
<tr><th align="left">결제 금액</th><td>{{amount}}</td></tr>
</table>
<ul>
{{#items}}<li>{{label}} x{{quantity}} ({{unit_price}})</li>
{{/items}}</ul>
<h2>티켓 코드</h2>
<ul>
{{#tickets}}<li><code>{{code}}</code> ({{label}})</li>
{{/tickets}}</ul>
<p><a href="{{link}}">예매 내역 보기</a></p>
<p style="color:#888;font-size:12px">Tiketi</p>
</body></html>
)~~"},
      {"reservation_confirmed/ko.body.txt", R"~~({{name}}님, 예매가 확정되었습니다.

공연: {{event_title}}
일시: {{performance_date}}
결제 금액: {{amount}}

좌석/권종:
{{#items}}- {{label}} x{{quantity}} ({{unit_price}})
{{/items}}
티켓 코드:
{{#tickets}}- {{code}} ({{label}})
{{/tickets}}
예매 내역: {{link}}
)~~"},
      {"reservation_confirmed/ko.subject.txt", R"~~([Tiketi] 예매 확정: {{event_title}}
)~~"},
      {"reservation_expired/en.body.html", R"~~(<!doctype html>
<html><head><meta charset="utf-8"><title>{{subject}}</title></head>
<body style="font-family:sans-serif;color:#222;max-width:600px;margin:auto">
<h1>Your hold expired</h1>
<p>Hi {{name}}, the time to pay ran out and your held seats were released.</p>
<p>{{event_title}}</p>
<ul>
{{#items}}<li>{{label}} x{{quantity}}</li>
{{/items}}</ul>
<p><a href="{{link}}">Try again</a></p>
<p style="color:#888;font-size:12px">Tiketi</p>
</body></html>
)~~"},
      {"reservation_expired/en.body.txt",
       R"~~(Hi {{name}}, the time to pay ran out and your held seats were released.

Event: {{event_title}}
{{#items}}- {{label}} x{{quantity}}
{{/items}}
Try again: {{link}}
)~~"},
      {"reservation_expired/en.subject.txt", R"~~([Tiketi] Your hold expired: {{event_title}}
)~~"},
      {"reservation_expired/ko.body.html", R"~~(<!doctype html>
<html><head><meta charset="utf-8"><title>{{subject}}</title></head>
<body style="font-family:sans-serif;color:#222;max-width:600px;margin:auto">
<h1>좌석 선점이 만료되었습니다</h1>
<p>{{name}}님, 결제 시간이 지나 선점한 좌석이 해제되었습니다.</p>
<p>{{event_title}}</p>
<ul>
{{#items}}<li>{{label}} x{{quantity}}</li>
{{/items}}</ul>
<p><a href="{{link}}">다시 예매하기</a></p>
<p style="color:#888;font-size:12px">Tiketi</p>
</body></html>
)~~"},
      {"reservation_expired/ko.body.txt", R"~~({{name}}님, 결제 시간이 지나 선점한 좌석이 해제되었습니다.

공연: {{event_title}}
{{#items}}- {{label}} x{{quantity}}
{{/items}}
다시 예매하기: {{link}}
)~~"},
      {"reservation_expired/ko.subject.txt", R"~~([Tiketi] 좌석 선점 만료: {{event_title}}
)~~"},
  };
  return kAll;
}

}  // namespace tiketi::notification
