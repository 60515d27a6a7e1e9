// The page table: one row per page. To add a page (e.g. Tokenomics), write
// src/pages/<name>.js exporting `render(ctx)` and add a row here; the nav and router follow.
//   path:   the hash route (#/path)
//   title:  nav text and document title
//   nav:    shown in the top navigation
//   admin:  only for role "admin" (others get a 403 page, and no nav entry)
//   load:   lazy import of the page module
export const routes = [
  { path: 'calendar', title: 'Calendar', nav: true, load: () => import('./pages/calendar.js') },
  { path: 'book', title: 'Book GPUs', nav: false, load: () => import('./pages/book.js') },
  { path: 'sessions', title: 'My sessions', nav: true, load: () => import('./pages/sessions.js') },
  { path: 'pool', title: 'Pool', nav: true, load: () => import('./pages/pool.js') },
  { path: 'tokenomics', title: 'Tokenomics', nav: true, load: () => import('./pages/tokenomics.js') },
  { path: 'admin', title: 'Admin', nav: true, admin: true, load: () => import('./pages/admin.js') },
];

export const DEFAULT_ROUTE = 'calendar';
