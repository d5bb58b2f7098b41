import { MemoryStore } from '../src/memory-store.ts';
import { storeConformance } from './conformance.ts';

const store = new MemoryStore();
storeConformance('memory', () => store);
