import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/App';
import { applyTheme, rememberedTheme } from './app/theme';
import { selectBackend } from './backend/select';
import './styles/app.css';

// The last theme chosen, before the first paint; the stored preference takes over once unlocked.
applyTheme(rememberedTheme());

const container = document.getElementById('root');
if (!container) throw new Error('index.html is missing #root');

createRoot(container).render(
  <StrictMode>
    <App backend={selectBackend()} />
  </StrictMode>,
);
