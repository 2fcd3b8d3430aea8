import 'reflect-metadata';
import { type DynamicModule, Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import { ExpressAdapter } from '@nestjs/platform-express';
import express from 'express';
import session from 'express-session';
import passport from 'passport';
import type { ItsMeProfile, ItsMeStrategyOptions } from '../../../lib/index.js';
import { listen } from '../../support/http.js';
import { ItsMeController, ItsMeErrorFilter, MeController, SessionSerializer } from './auth.js';
import { ITSME_OPTIONS, type NestAppOptions, type RunningNestApp, VALIDATED, type ValidateKind } from './contract.js';
import {
  AsyncItsMeAuth,
  HangingItsMeAuth,
  ItsMeAuth,
  ItsMeAuthWithRequest,
  RefusingItsMeAuth,
  ThrowingItsMeAuth,
} from './strategies.js';

const STRATEGIES: Record<ValidateKind, Type> = {
  sync: ItsMeAuth,
  async: AsyncItsMeAuth,
  request: ItsMeAuthWithRequest,
  refuse: RefusingItsMeAuth,
  throw: ThrowingItsMeAuth,
  hang: HangingItsMeAuth,
};

@Module({})
export class AppModule {}

/** The app's module, with the chosen strategy and its options. */
function appModule(
  kind: ValidateKind,
  options: ItsMeStrategyOptions,
  validated: ItsMeProfile[],
  keepSessionInfo: boolean,
): DynamicModule {
  return {
    module: AppModule,
    imports: [PassportModule.register({ session: true, keepSessionInfo })],
    controllers: [ItsMeController, MeController],
    providers: [
      { provide: ITSME_OPTIONS, useValue: options },
      { provide: VALIDATED, useValue: validated },
      STRATEGIES[kind],
      SessionSerializer,
    ],
  };
}

/**
 * A real NestJS app on the Express platform with express-session and @nestjs/passport, on a real
 * HTTP server on 127.0.0.1: `/auth/itsme` starts, `/auth/itsme/callback` completes and redirects to
 * `/me`, or answers the strategy's status and message.
 */
export async function startNestApp(options: NestAppOptions): Promise<RunningNestApp> {
  const server = express();
  const listening = await listen(server);
  const validated: ItsMeProfile[] = [];
  const strategy: ItsMeStrategyOptions = {
    apiKey: options.zignsec.apiKey,
    baseURL: options.zignsec.url,
    callbackURL: `${listening.url}/auth/itsme/callback`,
    ...options.strategy,
  } as ItsMeStrategyOptions;
  const app = await NestFactory.create(
    appModule(options.validate, strategy, validated, options.keepSessionInfo ?? false),
    new ExpressAdapter(server),
    {
      logger: false,
    },
  );
  app.use(
    session({
      secret: 'a-nest-session-secret',
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: 'lax' },
    }),
  );
  app.use(passport.session());
  app.useGlobalFilters(new ItsMeErrorFilter());
  await app.init();
  return {
    url: listening.url,
    validated,
    async close() {
      await listening.close();
      await app.close();
      passport.unuse('itsme');
    },
  };
}
