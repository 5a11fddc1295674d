// What each route's code path calls on AWS, derived by reading the code (not the template):
//   src/core/chat_service.cpp      which store port methods and pushes each route makes,
//                                  including remove_gone() after a 410 during a fan-out;
//   src/adapters/dynamodb/dynamodb_store.cpp  which DynamoDB operation, on which table, each
//                                  store method sends (TransactWriteItems is authorised as
//                                  the PutItem/UpdateItem items inside it);
//   src/adapters/apigw/apigw_connection_pusher.cpp  push() is POST @connections; core never
//                                  calls disconnect() (DELETE) or connection_info() (GET).
// docs/deploy.md carries the same matrix; tests/infra/iam.test.mjs checks that all three agree.

/** @type {{route: string, id: string, connections: string[], messages: string[], post: boolean}[]} */
export const routes = [
  // put_connection: PutItem; refresh_subscriptions (a replaced record): Query + UpdateItem.
  { route: '$connect', id: 'Connect', connections: ['PutItem', 'Query', 'UpdateItem'], messages: [], post: false },
  // remove_gone -> remove_connection: Query + BatchWriteItem + Query; presence: Query + POST.
  { route: '$disconnect', id: 'Disconnect', connections: ['BatchWriteItem', 'Query'], messages: [], post: true },
  // invalid_request from the event alone.
  { route: '$default', id: 'Default', connections: [], messages: [], post: false },
  // get_connection, join_room (GetItem head, transaction of Puts, member PutItem,
  // BatchWriteItem subscription, Query presence), broadcast + remove_gone.
  { route: 'joinRoom', id: 'JoinRoom', connections: ['BatchWriteItem', 'GetItem', 'Query'], messages: ['GetItem', 'PutItem'], post: true },
  // get_connection, leave_room (DeleteItem member, Query + BatchWriteItem subscriptions), pushes.
  { route: 'leaveRoom', id: 'LeaveRoom', connections: ['BatchWriteItem', 'GetItem', 'Query'], messages: ['DeleteItem'], post: true },
  // get_connection, is_member, append_message (GetItem head/duplicate, transaction of
  // Update + Puts), subscribers, fan-out, remove_gone.
  { route: 'sendMessage', id: 'SendMessage', connections: ['BatchWriteItem', 'GetItem', 'Query'], messages: ['GetItem', 'PutItem', 'UpdateItem'], post: true },
  // get_connection, is_member, history (Query).
  { route: 'getHistory', id: 'GetHistory', connections: ['GetItem'], messages: ['GetItem', 'Query'], post: false },
  // get_connection, is_member, broadcast + remove_gone.
  { route: 'typing', id: 'Typing', connections: ['BatchWriteItem', 'GetItem', 'Query'], messages: ['GetItem'], post: true },
  // get_connection, list_rooms (Query ROOMS, BatchGetItem, Query presence on Connections).
  { route: 'listRooms', id: 'ListRooms', connections: ['GetItem', 'Query'], messages: ['BatchGetItem', 'Query'], post: false },
  // get_connection, mark_read (GetItem head, UpdateItem member, GetItem member).
  { route: 'markRead', id: 'MarkRead', connections: ['GetItem'], messages: ['GetItem', 'UpdateItem'], post: false },
  // get_connection.
  { route: 'ping', id: 'Ping', connections: ['GetItem'], messages: [], post: false },
];

/** The client actions of docs/protocol.md: each must have its own route. */
export const actions = routes.map((r) => r.route).filter((r) => !r.startsWith('$'));
