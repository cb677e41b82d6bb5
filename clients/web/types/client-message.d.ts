// Generated from schemas/json/client-message.schema.json by clients/web/scripts/types.mjs: do not edit.

/**
 * What a browser may send on a build's WebSocket.
 */
export type ClientMessage =
  | {
      /**
       * The last `seq` the client has.
       */
      after: number;
      type: "resume";
    }
  | {
      type: "ping";
    };
