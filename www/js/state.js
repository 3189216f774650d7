// The page's mutable state, shared by the modules.

export const state = {
  ready: false,
  /** 'live': the clock follows the current time; 'fixed': state.clock. */
  clockMode: 'live',
  clock: 0,
  /** The test IdP's private JWK (object), made in this page. */
  idpKey: null,
  endpointCache: { text: null, endpoint: null },
  evalSeq: 0,
  timer: 0,
  lastNow: 0,
};
