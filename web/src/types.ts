// Shapes of the API's JSON (see the services' handlers and docs/).
export interface User {
  id: string;
  email: string;
  name: string;
  role: string;
  language?: string;
  profileImageUrl?: string | null;
}

export interface Session {
  user: User;
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

export interface PriceRange {
  min: number;
  max: number;
  currency: 'KRW';
}

export interface EventSummary {
  id: string;
  title: string;
  category: string;
  artist: string;
  venue: { id: string; name: string } | null;
  performance_start: number;
  performance_end: number;
  sale_start: number;
  sale_end: number;
  status: string;
  image_ids: string[];
  waiting_room: { enabled: boolean; admission_per_minute?: number; max_active?: number };
  price: PriceRange | null;
}

export interface TicketType {
  id: string;
  name: string;
  kind: 'seated' | 'general_admission';
  price: number;
  currency: 'KRW';
  sort_order: number;
  category?: string;
  quota?: number | null;
}

export interface EventDetail extends EventSummary {
  description: string;
  per_user_limit: number;
  hold_minutes: number;
  sold_out: boolean;
  published_at: number | null;
  ticket_types: TicketType[];
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface SeatingPlan {
  event_id: string;
  categories: { code: string; name: string; color: string }[];
  sections: { code: string; name: string; x: number; y: number }[];
  seat_fields: string[];
  seats: [string, string, string, number, number, number, string][];
  seat_count: number;
}

export type SeatStatus = 'available' | 'held' | 'sold';

export interface SeatsSnapshot {
  eventId: string;
  onSale: boolean;
  summary: { available: number; held: number; sold: number };
  seats: { id: string; label: string; ticketTypeId: string; price: number; status: SeatStatus }[];
  quotas: { ticketTypeId: string; name: string; price: number; quota: number; available: number }[];
}

export interface ReservationItem {
  label: string;
  ticketTypeId: string;
  unitPrice: number;
  quantity: number;
  seatId?: string;
}

export interface Ticket {
  code: string;
  reservationId: string;
  eventId: string;
  ticketTypeId: string;
  label: string;
  status: string;
  issuedAt: number;
  qrUrl: string;
  seatId?: string;
  checkedInAt: number | null;
}

export interface Reservation {
  id: string;
  eventId: string;
  userId: string;
  status: 'PENDING' | 'CONFIRMED' | 'EXPIRED' | 'CANCELLED';
  kind: 'seated' | 'general_admission';
  quantity: number;
  amount: number;
  currency: 'KRW';
  expiresAt: number;
  createdAt: number;
  items: ReservationItem[];
  paymentId?: string;
  confirmedAt?: number;
  cancelledAt?: number;
  tickets?: Ticket[];
  refund?: { pointsAmount?: number; cardAmount?: number; amount?: number };
}

export interface Payment {
  id: string;
  purpose: string;
  orderId: string;
  status: string;
  amount: number;
  pointsAmount: number;
  cardAmount: number;
  method: string;
  currency: 'KRW';
  reservationId?: string;
  checkoutUrl?: string;
  testMode?: boolean;
  failureReason?: string;
  createdAt?: number;
  updatedAt?: number;
}

export interface QueueStanding {
  eventId: string;
  state: 'waiting' | 'admitted' | 'closed' | 'none';
  position?: number;
  peopleAhead?: number;
  etaSeconds?: number | null;
  seq?: number;
  paused?: boolean;
  opensAt?: number;
  sessionExpiresAt?: number;
  admissionToken?: string;
}

export interface News {
  id: string;
  title: string;
  body: string;
  pinned: boolean;
  published_at: number;
  updated_at: number;
}
